"""The modules a sentence-transformers model runs after its transformer, as one torch module: token states and mask
in, one vector per row out. Weights are read with safetensors, or ``torch.load(weights_only=True)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..pooling import pool, without_prompt
from .description import Description, SentenceTransformersFormatError
from .modules import DenseModule, LayerNormModule, NormalizeModule, PoolingModule, RouterModule
from .route import Route


class SentenceHead(torch.nn.Module):
    """Pooling, Dense, LayerNorm, Normalize and Router modules applied in the order the model lists them."""

    def __init__(self, steps: list[torch.nn.Module]) -> None:
        super().__init__()
        self.steps = torch.nn.ModuleList(steps)

    def output_width(self, hidden: int) -> int:
        """The width of the vectors this head makes from ``hidden``-wide token states."""
        device = next((p.device for p in self.parameters()), torch.device("cpu"))
        with torch.inference_mode():
            states = torch.zeros(1, 1, hidden, device=device)
            return int(self(states, torch.ones(1, 1, dtype=torch.long, device=device), Route()).shape[-1])

    def forward(self, token_embeddings: torch.Tensor, attention_mask: torch.Tensor, route: Route) -> torch.Tensor:
        state: Any = token_embeddings
        for step in self.steps:
            state = step(state, attention_mask, route)
        return state


class _Pooling(torch.nn.Module):
    def __init__(self, spec: PoolingModule, mode_override: str | None) -> None:
        super().__init__()
        self.modes = (mode_override,) if mode_override else spec.modes
        self.include_prompt = spec.include_prompt

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, route: Route) -> torch.Tensor:
        pooled_mask = mask
        if not self.include_prompt and route.prompt_length:
            pooled_mask = without_prompt(mask, route.prompt_length)
        return torch.cat([pool(hidden, pooled_mask, mode, positions_from=mask) for mode in self.modes], dim=-1)


class _Dense(torch.nn.Module):
    def __init__(self, spec: DenseModule, folder: Path) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(spec.in_features, spec.out_features, bias=spec.bias)
        activation = getattr(torch.nn, spec.activation, None)
        if not (isinstance(activation, type) and issubclass(activation, torch.nn.Module)):
            raise SentenceTransformersFormatError(f"{folder / spec.source}: activation_function {spec.activation!r} "
                                                  "is not a torch.nn module class")
        self.activation = activation()
        self.residual: torch.nn.Module | None = None
        if spec.use_residual:
            self.residual = (torch.nn.Identity() if spec.in_features == spec.out_features
                             else torch.nn.Linear(spec.in_features, spec.out_features, bias=False))
        _load_weights(self, folder, spec.weights)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, route: Route) -> torch.Tensor:
        out = self.activation(self.linear(x))
        return out + self.residual(x) if self.residual is not None else out


class _LayerNorm(torch.nn.Module):
    def __init__(self, spec: LayerNormModule, folder: Path) -> None:
        super().__init__()
        self.norm = torch.nn.LayerNorm(spec.dimension)
        _load_weights(self, folder, spec.weights)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, route: Route) -> torch.Tensor:
        return self.norm(x)


class _Normalize(torch.nn.Module):
    def forward(self, x: torch.Tensor, mask: torch.Tensor, route: Route) -> torch.Tensor:
        return torch.nn.functional.normalize(x, p=2, dim=-1)


class _Router(torch.nn.Module):
    def __init__(self, spec: RouterModule, folder: Path, mode_override: str | None) -> None:
        super().__init__()
        self.spec = spec
        self.routes = torch.nn.ModuleDict({name: SentenceHead(_steps(chain, folder, mode_override))
                                           for name, chain in spec.routes.items()})

    def forward(self, x: torch.Tensor, mask: torch.Tensor, route: Route) -> torch.Tensor:
        return self.routes[self.spec.route_for(route.task)](x, mask, route)


def _steps(modules: tuple[Any, ...], folder: Path, mode_override: str | None) -> list[torch.nn.Module]:
    steps: list[torch.nn.Module] = []
    for module in modules:
        if isinstance(module, PoolingModule):
            steps.append(_Pooling(module, mode_override))
        elif isinstance(module, DenseModule):
            steps.append(_Dense(module, folder))
        elif isinstance(module, LayerNormModule):
            steps.append(_LayerNorm(module, folder))
        elif isinstance(module, NormalizeModule):
            steps.append(_Normalize())
        elif isinstance(module, RouterModule):
            steps.append(_Router(module, folder, mode_override))
    return steps


def build_head(description: Description, modules: tuple[Any, ...], *,
               pooling_override: str | None = None) -> SentenceHead:
    """The torch head running ``modules`` (of ``description``, in order). ``pooling_override``: the caller's
    ``pooling_method``, replacing the Pooling module's mode(s)."""
    if description.pooling is None and not description.has_routes:
        raise SentenceTransformersFormatError(
            f"{description.folder / 'modules.json'}: no Pooling module after the Transformer; flagcore embedders "
            "pool token vectors into one vector per text")
    return SentenceHead(_steps(modules, description.folder, pooling_override)).eval()


def _load_weights(module: torch.nn.Module, folder: Path, relative: str) -> None:
    path = folder / relative
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        from ..loading import refused_pickle_message

        if path.suffix != ".safetensors" and "weights_only" in str(exc):
            raise SentenceTransformersFormatError(refused_pickle_message(str(path), exc)) from exc
        raise SentenceTransformersFormatError(f"{path} cannot be read ({type(exc).__name__}: {exc})") from exc
    expected = module.state_dict()
    problems = [f"{key}: missing" for key in expected if key not in state]
    problems += [f"{key}: shape {tuple(state[key].shape)}, expected {tuple(value.shape)}"
                 for key, value in expected.items() if key in state and state[key].shape != value.shape]
    problems += [f"{key}: not used" for key in state if key not in expected]
    if problems:
        raise SentenceTransformersFormatError(f"{path} does not fit the module its config.json describes: "
                                              + "; ".join(problems))
    module.load_state_dict({key: value.float() for key, value in state.items()})

"""A small MTEB retrieval task built from texts in this file, so that ``mteb.evaluate`` runs with nothing fetched.

Each query has one relevant passage, written without the query's words where a paraphrase will do, next to
passages that share the query's words but answer something else: a model must match meaning, not tokens.
"""

from __future__ import annotations

from typing import Any

from datasets import Dataset
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.task_metadata import TaskMetadata

QUERY_INSTRUCTION = "Find the passage that answers the question"

# (query, relevant passage, passages that share its words but not its answer)
CASES: list[tuple[str, str, list[str]]] = [
    ("How do I keep my sourdough starter alive while I am on vacation?",
     "Before a long trip, feed the levain, let it rise for an hour, then refrigerate it: a well-fed culture "
     "survives two or three weeks in the fridge.",
     ["Sourdough bread gets its tangy flavour from lactic acid bacteria living alongside wild yeast.",
      "Vacation rentals near the coast fill up quickly during the summer months."]),
    ("Why does my phone battery drain so fast in cold weather?",
     "Lithium-ion cells deliver less current at low temperatures because the reactions inside them slow down, so "
     "a device may shut off early when it is freezing outside.",
     ["Replacing a smartphone screen costs less at independent repair shops than at the maker's store.",
      "Winter tyres use a softer rubber compound that stays flexible below seven degrees Celsius."]),
    ("What causes the northern lights?",
     "Auroras appear when charged particles from the solar wind strike oxygen and nitrogen high in the "
     "atmosphere, which then glow green and red.",
     ["Norway's far north offers whale watching tours between November and January.",
      "Street lights in many cities are being replaced with LED fixtures to save energy."]),
    ("best way to get red wine out of a carpet",
     "Blot the spill at once, pour on a little cold water and a mix of dish soap and hydrogen peroxide, then dab "
     "until the stain lifts; never rub it.",
     ["Red wines are usually served slightly below room temperature to soften their tannins.",
      "Wall-to-wall carpeting was popular in suburban houses during the 1970s."]),
    ("How long should I boil an egg for a runny yolk?",
     "Lower it into water that is already simmering, cook for six minutes and cool it in iced water: the white "
     "sets while the centre stays liquid.",
     ["Hens lay more eggs when they get fourteen to sixteen hours of daylight.",
      "Water boils at a lower temperature at high altitude, which lengthens cooking times for pasta."]),
    ("symptoms of dehydration in older adults",
     "In elderly people a lack of fluids often shows up as confusion, dizziness, dark urine, a dry mouth and "
     "unusual tiredness rather than as strong thirst.",
     ["Desert plants store water in thick leaves to survive long droughts.",
      "Regular strength training helps seniors keep their muscle mass and balance."]),
    ("Who painted the ceiling of the Sistine Chapel?",
     "Between 1508 and 1512 Michelangelo covered the vault of the pope's chapel in the Vatican with scenes from "
     "Genesis, among them the Creation of Adam.",
     ["Leonardo da Vinci's Last Supper decorates a refectory wall in Milan.",
      "Many Baroque churches in Rome have painted domes that give the illusion of an open sky."]),
    ("how to speed up a slow python loop",
     "Replacing an element-by-element for statement with vectorised NumPy operations often makes numerical code "
     "a hundred times faster.",
     ["Ball pythons are popular pets because they are docile and rarely grow longer than five feet.",
      "A while statement repeats its body for as long as its condition remains true."]),
    ("What is the capital of Australia?",
     "Canberra, built on purpose as a compromise between Sydney and Melbourne, has been the seat of the federal "
     "government since 1927.",
     ["Sydney is Australia's largest city and is famous for its harbour and opera house.",
      "Australian iron ore goes mostly to steel mills in East Asia."]),
    ("ways to reduce jet lag after a long flight",
     "Shift your sleep a few days before leaving, get morning sunlight where you land and keep naps under twenty "
     "minutes, and your body clock resets faster.",
     ["Long-haul aircraft cruise at roughly eleven kilometres above sea level.",
      "Airline lounges offer showers and quiet rooms to premium passengers."]),
]
FILLER = [
    "Honey keeps for years because its low moisture and high acidity stop bacteria from growing.",
    "The Great Barrier Reef is the largest coral reef system in the world.",
]
TITLES = {"d0": "Travel with a starter", "d9": "Stains"}  # a few titled passages: MTEB joins title and text


def split_data() -> dict[str, Any]:
    """The task's one split: queries, corpus (ids d0, d1...), qrels, and no pre-ranked candidates."""
    queries, corpus, qrels = [], [], {}
    for number, (query, relevant, others) in enumerate(CASES):
        query_id = f"q{number}"
        queries.append({"id": query_id, "text": query})
        qrels[query_id] = {f"d{len(corpus)}": 1}
        for passage in (relevant, *others):
            corpus.append({"id": f"d{len(corpus)}", "title": "", "text": passage})
    for passage in FILLER:
        corpus.append({"id": f"d{len(corpus)}", "title": "", "text": passage})
    for row in corpus:
        row["title"] = TITLES.get(row["id"], "")
    return {"queries": Dataset.from_list(queries), "corpus": Dataset.from_list(corpus), "relevant_docs": qrels,
            "top_ranked": None}


class LocalRetrieval(AbsTaskRetrieval):
    """Ten questions over 32 passages; ``load_data`` builds them here instead of fetching a dataset."""

    metadata = TaskMetadata(
        name="FlagcoreLocalRetrieval",
        description="Ten everyday questions, each answered by one of 32 short passages (flagcore's MTEB tests).",
        dataset={"path": "flagcore/local-retrieval", "revision": "1"},
        prompt={"query": QUERY_INSTRUCTION},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=["test"],
        eval_langs=["eng-Latn"],
        main_score="ndcg_at_10",
        license="mit",
    )

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        self.dataset = {"default": {"test": split_data()}}
        self.data_loaded = True

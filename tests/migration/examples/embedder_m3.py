# ruff: noqa
# Source: FlagOpen/FlagEmbedding examples/inference/embedder/README.md (commit 95ce880, unchanged since 2024-10-30;
# the "embedder inference" page the 1.4.2 README links to), section "3. M3 Model".
# The snippet below is copied as written there. The migration harness (run_examples.py) changes its import line
# only, and runs 'cuda:N' devices on the CPU; it records what print(...) is given. RESULTS at the end is added.

from FlagEmbedding import BGEM3FlagModel
sentences_1 = ["样例数据-1", "样例数据-2"]
sentences_2 = ["样例数据-3", "样例数据-4"]
model = BGEM3FlagModel('BAAI/bge-m3',
                       use_fp16=True,
                       pooling_method='cls',
                       devices=['cuda:1']) # Setting use_fp16 to True speeds up computation with a slight performance degradation
embeddings_1 = model.encode(
    sentences_1,
    return_dense=True,
    return_sparse=True,
    return_colbert_vecs=False,
)
embeddings_2 = model.encode(
    sentences_2,
    return_dense=True,
    return_sparse=True,
    return_colbert_vecs=False,
)
dense_similarity = embeddings_1["dense_vecs"] @ embeddings_2["dense_vecs"].T
print('dense similarity:', dense_similarity)
sparse_similarity = model.compute_lexical_matching_score(
    embeddings_1["lexical_weights"],
    embeddings_2["lexical_weights"],
)
print('sparse similarity:', sparse_similarity)

queries = ['query_1', 'query_2']
passages = ["样例文档-1", "样例文档-2"]
q_embeddings = model.encode_queries(
    queries,
    return_dense=True,
    return_sparse=True,
    return_colbert_vecs=False,
)
p_embeddings = model.encode_corpus(
    passages,
    return_dense=True,
    return_sparse=True,
    return_colbert_vecs=False,
)
dense_scores = embeddings_1["dense_vecs"] @ embeddings_2["dense_vecs"].T
print('dense scores:', dense_scores)
sparse_scores = model.compute_lexical_matching_score(
    embeddings_1["lexical_weights"],
    embeddings_2["lexical_weights"],
)
print('sparse similarity:', sparse_scores)

# --- added for the migration test ---
RESULTS = {"embeddings_1": embeddings_1, "embeddings_2": embeddings_2,
           "dense_similarity": dense_similarity, "sparse_similarity": sparse_similarity,
           "q_embeddings": q_embeddings, "p_embeddings": p_embeddings, "dense_scores": dense_scores,
           "sparse_scores": sparse_scores}

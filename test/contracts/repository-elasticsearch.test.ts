import { ElasticsearchRepository } from "../../projections/elasticsearch/elasticsearch-repository.js";
import { dropIndices, ensureElasticsearch, randomIndexPrefix } from "../harness/elasticsearch.js";
import { repositoryContract } from "./repository.contract.js";

const prefix = randomIndexPrefix("repo");
let url = "";

repositoryContract("elasticsearch", {
  async open() {
    url = await ensureElasticsearch();
    // Refresh on every write: the contract reads right after it writes.
    const repo = new ElasticsearchRepository({ url, prefix, refresh: true });
    await repo.init();
    return repo;
  },
  async cleanup() {
    if (url) await dropIndices(url, prefix);
  },
});

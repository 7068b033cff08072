import { MemoryStorage } from "../../storage/memory-storage.js";
import { storageContract } from "./storage.contract.js";

storageContract("memory", async () => ({ storage: new MemoryStorage(), close: async () => undefined }));

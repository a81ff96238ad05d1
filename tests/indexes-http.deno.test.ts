import { indexesSuite } from "./indexes-suite.ts";

indexesSuite("deno");
indexesSuite("deno", { label: "denokv storage", files: false, open: async () => ({ args: ["--storage", "denokv"], close: async () => {} }) });

/** The HTTP suite against a Deno node on the denokv engine, in its default place (BASE_PATH/minstore.kv). */
import { httpSuite } from "./http-suite.ts";

httpSuite("deno", { label: "denokv storage", files: false, open: async () => ({ args: ["--storage", "denokv"], close: async () => {} }) });

import { opsSuite } from "./ops-suite.ts";

opsSuite("deno");

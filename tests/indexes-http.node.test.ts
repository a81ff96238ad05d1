import { LOG_STORAGE } from "./http-suite.ts";
import { indexesSuite } from "./indexes-suite.ts";

indexesSuite("node");
// The log engine offers summaries() for the start-up pass: with an index declared, the pass must read whole records instead.
indexesSuite("node", LOG_STORAGE);

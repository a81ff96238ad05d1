import { indexesSuite } from "./indexes-suite.ts";

indexesSuite("node");

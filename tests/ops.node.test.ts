import { opsSuite } from "./ops-suite.ts";

opsSuite("node");

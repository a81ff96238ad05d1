import { httpSuite } from "./http-suite.ts";

httpSuite("bun");

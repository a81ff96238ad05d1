import { httpSuite } from "./http-suite.ts";

httpSuite("node");

import { httpSuite, LOG_STORAGE } from "./http-suite.ts";

httpSuite("node");
httpSuite("node", LOG_STORAGE);

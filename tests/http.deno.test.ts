import { httpSuite, LOG_STORAGE } from "./http-suite.ts";

httpSuite("deno");
httpSuite("deno", LOG_STORAGE);

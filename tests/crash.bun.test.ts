import { crashSuite } from "./crash-suite.ts";

crashSuite("bun");

crashSuite("bun", ["--storage", "log"]);

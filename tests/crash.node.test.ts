import { crashSuite } from "./crash-suite.ts";

crashSuite("node");
crashSuite("node", ["--storage", "log"]);

import { changesSuite } from "./changes-suite.ts";

changesSuite("node");
changesSuite("node", ["--storage", "log"]);

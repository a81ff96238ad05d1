import { changesSuite } from "./changes-suite.ts";

changesSuite("deno");
changesSuite("deno", ["--storage", "log"]);

import { authSuite } from "./auth-suite.ts";

authSuite("deno");

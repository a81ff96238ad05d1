import { authSuite } from "./auth-suite.ts";

authSuite("node");

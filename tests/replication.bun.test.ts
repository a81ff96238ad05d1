import { replicationSuite } from "./replication-suite.ts";

replicationSuite("bun");

import { replicationSuite } from "./replication-suite.ts";

replicationSuite("node");

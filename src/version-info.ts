/** minstore's own version; tests/config.test.ts checks it matches package.json. */
export const MINSTORE_VERSION = "0.1.0";

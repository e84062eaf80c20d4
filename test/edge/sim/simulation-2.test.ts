// Part 2 of the seeded simulation's runs (runs.ts says why they are spread over files).
import "fake-indexeddb/auto";
import { simulationRuns } from "./runs";

simulationRuns(2);

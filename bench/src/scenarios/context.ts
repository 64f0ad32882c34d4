// What every scenario gets from run.ts.
export interface ScenarioContext {
  quick: boolean;
  /** Run hub processes under --cpu-prof (profiles land in bench/profiles). */
  profile: boolean;
  log(line: string): void;
}

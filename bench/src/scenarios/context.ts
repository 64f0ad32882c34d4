// What every scenario gets from run.ts.
export interface ScenarioContext {
  quick: boolean;
  /** Run hub processes under --cpu-prof (profiles land in bench/profiles). */
  profile: boolean;
  /** `--scale <twins>`: one more store size for the scale scenario (e.g. 1,000,000 for issue #16's target). */
  scaleSize?: number;
  log(line: string): void;
}

/**
 * The first task of every invocation (never cached): validates the config and the raw inputs,
 * opens the MLflow pipeline run, and generates the demo data when `data.synth` is set and the data
 * is missing or was generated from other settings.
 */
import { checkRawInputs, loadExperimentConfig } from '../config';
import { validateStageSections } from '../config/sections';
import { openInvocation } from './tracking';
import { ensureDemoData } from './synth';

export async function runPrepare(log: (l: string) => void = (l) => process.stderr.write(`[prepare] ${l}\n`)): Promise<void> {
  const { config, file } = loadExperimentConfig();
  validateStageSections(config, file);
  await ensureDemoData(config, log);
  checkRawInputs(config, file);
  await openInvocation(config, log);
}

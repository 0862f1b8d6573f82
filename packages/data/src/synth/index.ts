/** The demo-data generator: procedurally drawn faces in the real training and benchmark formats. */
export { generateSynthDataset, resolveSynthOptions, DEFAULT_SYNTH_OPTIONS, SYNTH_MANIFEST, SYNTH_GENERATOR_VERSION, type SynthOptions, type SynthManifest, type SynthRunOptions } from './generate';
export { synthMain, SYNTH_USAGE } from './cli';
export { readTrainTruth, readIjbImageTruth, readIjbTemplateTruth, TRAIN_TRUTH_COLUMNS, IJB_IMAGE_TRUTH_COLUMNS, IJB_TEMPLATE_TRUTH_COLUMNS } from './ground-truth';
export type { TrainImageTruth } from './train-set';
export type { IjbImageTruth, IjbTemplateTruth, SynthIjbDataset } from './ijb-write';
export type { TemplateKind } from './ijb-plan';
export { DEGRADATIONS, QUALITY_WEIGHTS, qualityOf, type DegradationName, type DegradationSpec, type Severity } from './degrade';
export { encodeJpeg, type JpegEncodeOptions } from './jpeg-encoder';

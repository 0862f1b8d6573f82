/**
 * MLflow tracking: a typed REST client, the local `mlruns/` file store that `mlflow ui` reads,
 * a mirrored tracker whose local store is the outbox for a server, sync, and run comparison.
 */
export * from './types';
export { MLFLOW_LIMITS, TRUNCATED_PARAMS_TAG, TRUNCATED_TAGS_TAG, InvalidKeyError, validateKey, validateExperimentName, validateRunId, flattenParams, prepareParams, prepareTags } from './keys';
export { FileStore, parseMetricLine, latestPoint } from './file-store/store';
export { formatMetaYaml, parseMetaYaml } from './file-store/meta-yaml';
export { HttpTransport, MlflowApiError, type Credentials, type HttpOptions } from './rest/http';
export { MlflowRestClient, credentialsFromEnv, type RestRun, type RestRunInfo } from './rest/client';
export { splitBatch, SERVER_BATCH_LIMITS, type LogBatch, type BatchLimits } from './rest/batch';
export { FileTracker, RestTracker } from './trackers';
export { syncRun, syncStore, queueRun, syncTargetKey, LOCAL_RUN_ID_TAG, type SyncReport, type SyncOptions, type RunSyncOutcome } from './sync/sync';
export { readTargetState, SYNC_STATE_FILE, type TargetState } from './sync/state';
export { openTracker, openRunSource, openRestClient, parseTrackingUri, MirroredTracker, type OpenTrackerOptions, type TrackingTarget, type HttpSettings } from './open';
export { compareRuns, formatComparison, tarColumns, runLabel, type RunComparison, type TarColumn } from './compare/table';
export { rocCurvesFromJson, rocOverlaySvg, findRocArtifacts, type RocCurve } from './compare/roc';
export { loadComparison, selectRuns, type CompareSelection, type LoadedComparison } from './compare/load';
export { FakeMlflowServer, type Fault, type RecordedRequest } from './testing/fake-mlflow-server';

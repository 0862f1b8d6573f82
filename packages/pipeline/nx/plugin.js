// Nx plugin: the pipeline project's stage targets, generated from the selected experiment config
// (FCN_EXPERIMENT, default "demo") so that shard targets follow `extract.shards` and outputs name
// the experiment's artifacts folder.
'use strict';
const { readRawConfig, experimentName, stages } = require('./stages');

const CODE = (pkg) => `{workspaceRoot}/packages/${pkg}/src/**/*`;

function targetsFor(experiment) {
  const config = readRawConfig(experiment);
  const targets = {};
  for (const stage of stages(config)) {
    const codePkgs = [...new Set(['common', 'pipeline', ...stage.packages])];
    targets[stage.name] = {
      executor: 'nx:run-commands',
      options: { command: `node packages/pipeline/bin/fcn.js stage ${stage.name}`, cwd: '{workspaceRoot}' },
      dependsOn: stage.deps,
      cache: stage.cache !== false,
      inputs: [
        ...codePkgs.map(CODE),
        '{workspaceRoot}/packages/pipeline/nx/*.js',
        '{workspaceRoot}/package-lock.json',
        { runtime: `node packages/pipeline/nx/stage-inputs.js ${stage.name}` },
        { env: 'FCN_EXPERIMENT' },
        { env: 'FCN_BACKEND' },
        { runtime: 'node --version' },
        { dependentTasksOutputFiles: '**/*', transitive: true },
      ],
      outputs: stage.cache === false ? [] : [`{workspaceRoot}/artifacts/${experiment}/${stage.name}`],
    };
  }
  // Runs after every stage: closes the invocation's MLflow run (linking stages served from the
  // cache to the runs that produced their outputs) and prints the final table.
  targets.full = {
    executor: 'nx:run-commands',
    options: { command: 'node packages/pipeline/bin/fcn.js pipeline finish', cwd: '{workspaceRoot}' },
    dependsOn: ['report'],
    cache: false,
  };
  return targets;
}

const createNodesV2 = [
  'packages/pipeline/project.json',
  (files) =>
    files.map((file) => [file, { projects: { 'packages/pipeline': { targets: targetsFor(experimentName()) } } }]),
];

module.exports = { createNodesV2, targetsFor };

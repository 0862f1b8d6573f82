/** `fcn ingest recordio|folder|ijb`: the data package's ingest CLI as fcn sub-commands. */
import { INGEST_USAGE, ingestFolderMain, ingestIjbMain, ingestRecordioMain } from '@facecoreset/data';
import type { Command } from '../command';

export function ingestCommands(): Command[] {
  return [
    { name: 'ingest recordio', summary: 'MXNet RecordIO (train.rec/.idx) -> images + identities Parquet', usage: INGEST_USAGE.recordio, run: (argv) => ingestRecordioMain(argv) },
    { name: 'ingest folder', summary: '<root>/<identity>/<image> folders -> images + identities Parquet', usage: INGEST_USAGE.folder, run: (argv) => ingestFolderMain(argv) },
    { name: 'ingest ijb', summary: 'IJB-B/C meta (+ features pickle, aligned crops) -> Parquet tables', usage: INGEST_USAGE.ijb, run: (argv) => ingestIjbMain(argv) },
  ];
}

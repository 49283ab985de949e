/** Live counters of an {@linkcode IoManager}. */
export interface IoStats {
  /** Files created (spill runs and output temp files). */
  filesCreated: number;
  /** Files removed again. */
  filesDeleted: number;
  /** Spill runs finished. */
  runsWritten: number;
  /** Record and framing bytes written to spill files (whole blocks, headers included). */
  bytesSpilled: number;
  /** Bytes read back from spill files. */
  bytesReadBack: number;
  /** Blocks written. */
  blocksWritten: number;
  /** Blocks read and verified. */
  blocksRead: number;
  /** Input bytes read by line readers (after decompression). */
  inputBytesRead: number;
  /** Bytes written to outputs. */
  outputBytesWritten: number;
  /** Bytes of file mapped at once at most by mmap channels (page cache, not heap). */
  mappedBytesPeak: number;
}

/** A zeroed {@linkcode IoStats}. */
export function emptyIoStats(): IoStats {
  return {
    filesCreated: 0,
    filesDeleted: 0,
    runsWritten: 0,
    bytesSpilled: 0,
    bytesReadBack: 0,
    blocksWritten: 0,
    blocksRead: 0,
    inputBytesRead: 0,
    outputBytesWritten: 0,
    mappedBytesPeak: 0,
  };
}

/** Order queue (SQS FIFO) → sequencer: assigns seqs, records history, hands lanes to deliver. */
export const handler = async (_event: unknown): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> => {
  throw new Error('sequencer: not implemented yet');
};

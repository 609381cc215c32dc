/** Delivery queue (SQS FIFO lanes) → deliver: posts frames to the lane's connections in order. */
export const handler = async (_event: unknown): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> => {
  throw new Error('deliver: not implemented yet');
};

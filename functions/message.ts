// Placeholder until the realtime core lands: the real handler replaces this file.
export const handler = async (): Promise<{ statusCode: number }> => ({ statusCode: 200 });

/** How the local runtime's parts report what happens: `debug` lines are for --verbose only. */
export type LocalLog = (level: 'debug' | 'warn', line: string) => void;

export const silentLog: LocalLog = () => undefined;

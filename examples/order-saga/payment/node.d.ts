// The few Node APIs payment.ts uses, declared here so the example needs no @types/node.
declare module 'node:fs' {
  export function appendFileSync(path: string, data: string): void;
  export function existsSync(path: string): boolean;
  export function readFileSync(path: string, encoding: 'utf8'): string;
}

declare const process: { env: Record<string, string | undefined>; pid: number };

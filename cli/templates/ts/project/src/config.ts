import { createToken } from '@omnitron-dev/native';

/** The application's settings, injected wherever they are needed. */
export interface AppConfig {
  greeting: string;
}

export const CONFIG = createToken<AppConfig>('AppConfig');

export const defaultConfig: AppConfig = {
  greeting: process.env.GREETING ?? 'Hello',
};

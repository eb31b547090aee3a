import { createToken } from '@omnitron-dev/native';

/** What the {{kebab}} module is configured with. */
export interface {{pascal}}Options {
  prefix: string;
}

export const {{pascal}}_OPTIONS = createToken<{{pascal}}Options>('{{pascal}}Options');

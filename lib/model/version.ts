import pkg from '../../package.json' with { type: 'json' };

/** The product's version, from package.json alone: `--version` and the ASFF and OCSF exports read it. */
export const VERSION: string = pkg.version;

export { parseHocon, type HoconOptions, type HoconValue, type UnsetValue } from './parser.js';
export { HoconDepthError, HoconError, HoconSyntaxError, HoconUnsetVariableError } from './errors.js';

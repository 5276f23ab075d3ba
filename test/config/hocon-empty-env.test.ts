/**
 * The HOCON parser's options for the Java orchestrator's deployments (issue 14): a variable set
 * to "" counts as unset (`emptyIsUnset`), and each value left unset is reported with its key
 * path and variables (`onUnset`), so that the loader can say why a required key is missing.
 */
import { describe, expect, it } from 'vitest';
import { parseHocon, type UnsetValue } from '../../src/config/hocon/index.js';

const env = { SET: 'v', EMPTY: '' };
const parse = (text: string, emptyIsUnset = true) => {
  const unset: UnsetValue[] = [];
  const value = parseHocon(text, { env, emptyIsUnset, onUnset: (u) => unset.push(u) });
  return { value, unset };
};

describe('HOCON: empty variables as unset', () => {
  it('${?EMPTY} and ${EMPTY}: the field is not set, a previous value stays, an element is left out', () => {
    expect(parse('a = ${?EMPTY}\nb = ${EMPTY}\nc = 1\nc = ${EMPTY}\nd = [1, ${EMPTY}, 2]\ne = ${SET}').value).toEqual({ c: 1, d: [1, 2], e: 'v' });
  });

  it('in a concatenation the rest stays', () => {
    expect(parse('a = "s3a://bucket/"${EMPTY}\nb = ${EMPTY}${?EMPTY}\nc = x${EMPTY}y').value).toEqual({ a: 's3a://bucket/', c: 'xy' });
  });

  it('without the option an empty variable is the empty string, as in HOCON', () => {
    expect(parse('a = ${?EMPTY}\nb = ${EMPTY}', false).value).toEqual({ a: '', b: '' });
  });

  it('a required ${UNSET} is still an error', () => {
    expect(() => parse('a = ${LW_SURELY_UNSET_VAR}')).toThrow('${LW_SURELY_UNSET_VAR} is not set at line 1, column 5');
  });

  it('reports each value left unset with its key path (list elements by index) and its variables', () => {
    const { unset } = parse(
      'tenants = [{ spark { jar = ${EMPTY} } }, { objectStore.aws.bucket = ${?LW_SURELY_UNSET_VAR} }]\nx.y = ${EMPTY}${?LW_SURELY_UNSET_VAR}\nok = ${SET}',
    );
    expect(unset).toEqual([
      { path: ['tenants', 0, 'spark', 'jar'], variables: [{ name: 'EMPTY', empty: true }] },
      { path: ['tenants', 1, 'objectStore', 'aws', 'bucket'], variables: [{ name: 'LW_SURELY_UNSET_VAR', empty: false }] },
      {
        path: ['x', 'y'],
        variables: [
          { name: 'EMPTY', empty: true },
          { name: 'LW_SURELY_UNSET_VAR', empty: false },
        ],
      },
    ]);
  });
});

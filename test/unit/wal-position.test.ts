import { formatWalPosition, parseWalPosition } from '../../src/db/replicas';

describe('WAL positions', () => {
  it.each([
    ['0/0', 0n],
    ['0/16B3748', 0x16b3748n],
    ['16/B374D848', (0x16n << 32n) | 0xb374d848n],
    ['FFFFFFFF/FFFFFFFF', (1n << 64n) - 1n],
  ])('reads %s as PostgreSQL prints it, and prints it back the same', (text, position) => {
    expect(parseWalPosition(text)).toBe(position);
    expect(formatWalPosition(position)).toBe(text);
  });

  it('orders positions as the log does: by the high half, then the low one', () => {
    expect(parseWalPosition('1/0')! > parseWalPosition('0/FFFFFFFF')!).toBe(true);
    expect(parseWalPosition('0/10')! > parseWalPosition('0/F')!).toBe(true);
  });

  it('takes lower-case digits', () => {
    expect(parseWalPosition('16/b374d848')).toBe(parseWalPosition('16/B374D848'));
  });

  it.each(['', '0', '0/', '/0', '1/2/3', 'G/0', '-1/0', '100000000/0', '0/100000000', ' 0/0', '0x1/0'])('refuses %p', (text) => {
    expect(parseWalPosition(text)).toBeNull();
  });
});

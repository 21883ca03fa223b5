// elfy 1.0 ships no types. Only what elf/elfFile.ts reads is declared, and
// every value is re-checked there: elfy does not validate what it parses.
declare module 'elfy' {
  interface ElfyHeader {
    class: string;
    endian: string;
    type: string | undefined;
    machine: string | undefined;
    shoff: number;
    shnum: number;
    shentsize: number;
    shstrndx: number;
    body: { sections: ElfySection[] };
  }
  interface ElfySection {
    name: string;
    type: string | number;
    off: number;
    size: number;
    link: number;
    info: number;
    data: Uint8Array;
  }
  const elfy: { parse(buf: Uint8Array): ElfyHeader };
  export default elfy;
}

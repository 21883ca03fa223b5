// The running kernel's BTF and what the loader resolves against it: externs (.kconfig, __ksym, kfuncs).
export {
  KernelBtf, SYS_KERNEL_BTF, VMLINUX, forgetKernelBtf, kernelBtf, readBtfFile, type KernelBtfHit, type KernelBtfOptions, type ModuleBtf,
} from './kernelBtf.js';
export {
  ProgramLoadFds, kernelBtfObjects, listBtfObjects, openModuleBtf, type KernelBtfObject, type ModuleBtfFdOpener,
} from './moduleFds.js';
export {
  KCONFIG_SECTION, KSYMS_SECTION, kconfigTypeOf, objectExterns, type KconfigExtern, type KconfigType, type KsymExtern, type ObjectExtern,
  type ObjectExterns,
} from './externs.js';
export {
  kconfigBytes, kernelVersionCode, linuxKernelVersion, parseKernelConfig, runningKernelConfig, runningLinuxKernelVersion,
  type KernelVersionSources, type LinuxVirtualValues,
} from './kconfig.js';
export {
  kfuncFdArraySlots, parseKallsyms, readKallsyms, resolveKsyms, type Kallsyms, type KsymResolution, type ResolveKsymsOptions,
} from './ksyms.js';
export { hasBpfCookie, hasSyscallWrapper, linuxVirtualValues } from './virtuals.js';
export { resolveObjectExterns, type ResolveExternsOptions, type ResolvedExterns } from './resolveExterns.js';
export {
  coreFunctions, coreTarget, relocateCoreAgainstKernel, type CoreFunction, type CoreTarget, type KernelCorePatch,
} from './core.js';
export { patchExternInstruction, type ExternPatchFds } from './externPatch.js';
export { describeFreplaceTarget, freplaceTargetAttrs, noFreplaceTarget, resolveFreplaceTarget } from './freplaceTarget.js';

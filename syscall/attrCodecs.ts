import { StructCodec } from './structCodec.js';
import {
  BTF_LOAD_ATTR, FD_ATTR, GET_ID_ATTR, INFO_ATTR, LINK_CREATE_ATTR, LINK_CREATE_PERF_EVENT_ATTR, LINK_CREATE_TCX_ATTR,
  LINK_CREATE_KPROBE_MULTI_ATTR, LINK_CREATE_UPROBE_MULTI_ATTR, LINK_CREATE_TRACING_ATTR, LINK_UPDATE_ATTR, MAP_CREATE_ATTR,
  MAP_ELEM_ATTR, OBJ_ATTR, PROG_ATTACH_ATTR, PROG_LOAD_ATTR,
  PROG_TEST_RUN_ATTR, PROG_BIND_MAP_ATTR, RAW_TRACEPOINT_ATTR,
} from '../uapi/attrs.js';
import { BTF_INFO, LINK_INFO, MAP_INFO, PROG_INFO } from '../uapi/info.js';
import { PERF_EVENT_ATTR } from '../uapi/perf.js';

/** One codec per uapi layout, in the host's byte order, shared by every command that sends or reads it. */

export const mapCreateAttr = new StructCodec(MAP_CREATE_ATTR);
export const objAttr = new StructCodec(OBJ_ATTR);
export const infoAttr = new StructCodec(INFO_ATTR);
export const getIdAttr = new StructCodec(GET_ID_ATTR);
export const fdAttr = new StructCodec(FD_ATTR);
export const btfLoadAttr = new StructCodec(BTF_LOAD_ATTR);
export const mapInfo = new StructCodec(MAP_INFO);
export const btfInfo = new StructCodec(BTF_INFO);
export const progLoadAttr = new StructCodec(PROG_LOAD_ATTR);
export const progAttachAttr = new StructCodec(PROG_ATTACH_ATTR);
export const rawTracepointAttr = new StructCodec(RAW_TRACEPOINT_ATTR);
export const elemAttr = new StructCodec(MAP_ELEM_ATTR);
export const testRunAttr = new StructCodec(PROG_TEST_RUN_ATTR);
export const progBindMapAttr = new StructCodec(PROG_BIND_MAP_ATTR);
export const progInfo = new StructCodec(PROG_INFO);
export const linkCreateAttr = new StructCodec(LINK_CREATE_ATTR);
export const linkCreateTracingAttr = new StructCodec(LINK_CREATE_TRACING_ATTR);
export const linkCreatePerfEventAttr = new StructCodec(LINK_CREATE_PERF_EVENT_ATTR);
export const linkCreateTcxAttr = new StructCodec(LINK_CREATE_TCX_ATTR);
export const linkCreateKprobeMultiAttr = new StructCodec(LINK_CREATE_KPROBE_MULTI_ATTR);
export const linkCreateUprobeMultiAttr = new StructCodec(LINK_CREATE_UPROBE_MULTI_ATTR);
export const linkUpdateAttr = new StructCodec(LINK_UPDATE_ATTR);
export const linkInfo = new StructCodec(LINK_INFO);
export const perfEventAttr = new StructCodec(PERF_EVENT_ATTR);

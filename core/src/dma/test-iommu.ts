/**
 * A test IOMMU: a map of IOVA pages, programmed directly by tests. `unmap` and `protect`
 * do NOT invalidate by themselves, so tests can show stale translations; `invalidate` does.
 */
import {
  type DmaAccess,
  type GuestPhysAddr,
  type IommuEntry,
  type IommuFault,
  type IommuHost,
  type IommuModel,
  type IommuPerm,
  type IommuRequest,
  type Iova,
  iova as toIova,
} from '@emuhost/sdk';

export interface PageMapIommu extends IommuModel {
  host: IommuHost;
  map(iova: number, gpa: number, perm?: IommuPerm, pageSize?: number): void;
  unmap(iova: number, pageSize?: number): void;
  translations: { iova: number; access: DmaAccess; req: IommuRequest }[];
}

export function pageMapIommu(host: IommuHost): PageMapIommu {
  const pages = new Map<string, IommuEntry>();
  const key = (iova: number, size: number) => `${size}:${Math.floor(iova / size)}`;
  const translations: PageMapIommu['translations'] = [];
  return {
    host,
    translations,
    map(iova, gpa, perm = 'read-write', pageSize = 4096) {
      pages.set(key(iova, pageSize), {
        kind: 'entry',
        iova: toIova(iova - (iova % pageSize)),
        translated: (gpa - (gpa % pageSize)) as GuestPhysAddr,
        pageSize,
        perm,
      });
    },
    unmap(iova, pageSize = 4096) {
      pages.delete(key(iova, pageSize));
    },
    translate(iova: Iova, access: DmaAccess, req: IommuRequest): IommuEntry | IommuFault {
      translations.push({ iova, access, req });
      for (const size of [4096, 2 ** 21, 2 ** 30]) {
        const e = pages.get(key(iova, size));
        if (e !== undefined) return e;
      }
      return { kind: 'fault', reason: 'not-present' };
    },
  };
}

//! Object management: create, copy, destroy, size, attributes, find.

use cryptoki_sys::*;

use super::marshal::{from_ck, len_from_ck, put, to_ck};
use super::template::{fill, requested_types, template};
use crate::error::Error;

cryptoki_fn! {
    /// C_CreateObject.
    fn C_CreateObject(
        hSession: CK_SESSION_HANDLE,
        pTemplate: *mut CK_ATTRIBUTE,
        ulCount: CK_ULONG,
        phObject: *mut CK_OBJECT_HANDLE,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pTemplate is NULL or a valid template of ulCount attributes (contract).
        let tpl = unsafe { template(pTemplate, ulCount) }?;
        if phObject.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let h = session.create_object(tpl)?;
        // SAFETY: phObject is non-NULL and writable (contract).
        unsafe { put(phObject, to_ck(h)) }
    }
}

cryptoki_fn! {
    /// C_CopyObject.
    fn C_CopyObject(
        hSession: CK_SESSION_HANDLE,
        hObject: CK_OBJECT_HANDLE,
        pTemplate: *mut CK_ATTRIBUTE,
        ulCount: CK_ULONG,
        phNewObject: *mut CK_OBJECT_HANDLE,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pTemplate is NULL or a valid template of ulCount attributes (contract).
        let tpl = unsafe { template(pTemplate, ulCount) }?;
        if phNewObject.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let h = session.copy_object(from_ck(hObject), tpl)?;
        // SAFETY: phNewObject is non-NULL and writable (contract).
        unsafe { put(phNewObject, to_ck(h)) }
    }
}

cryptoki_fn! {
    /// C_DestroyObject.
    fn C_DestroyObject(hSession: CK_SESSION_HANDLE, hObject: CK_OBJECT_HANDLE) {
        super::session(hSession)?.destroy_object(from_ck(hObject))
    }
}

cryptoki_fn! {
    /// C_GetObjectSize.
    fn C_GetObjectSize(hSession: CK_SESSION_HANDLE, hObject: CK_OBJECT_HANDLE, pulSize: *mut CK_ULONG) {
        let session = super::session(hSession)?;
        if pulSize.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let size = session.object_size(from_ck(hObject))?;
        // SAFETY: pulSize is non-NULL and writable (contract).
        unsafe { put(pulSize, to_ck(size)) }
    }
}

cryptoki_fn! {
    /// C_GetAttributeValue: every attribute processed; CKR_ATTRIBUTE_SENSITIVE,
    /// CKR_ATTRIBUTE_TYPE_INVALID and CKR_BUFFER_TOO_SMALL still fill the rest.
    fn C_GetAttributeValue(
        hSession: CK_SESSION_HANDLE,
        hObject: CK_OBJECT_HANDLE,
        pTemplate: *mut CK_ATTRIBUTE,
        ulCount: CK_ULONG,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pTemplate is NULL or valid for ulCount attributes (contract).
        let types = unsafe { requested_types(pTemplate, ulCount) }?;
        let reads = session.get_attributes(from_ck(hObject), types)?;
        // SAFETY: pTemplate holds reads.len() == ulCount attributes whose values are NULL or
        // writable for their lengths (contract).
        unsafe { fill(pTemplate, &reads) }
    }
}

cryptoki_fn! {
    /// C_SetAttributeValue (all or nothing, decided by the core).
    fn C_SetAttributeValue(
        hSession: CK_SESSION_HANDLE,
        hObject: CK_OBJECT_HANDLE,
        pTemplate: *mut CK_ATTRIBUTE,
        ulCount: CK_ULONG,
    ) {
        let session = super::session(hSession)?;
        // SAFETY: pTemplate is NULL or a valid template of ulCount attributes (contract).
        let tpl = unsafe { template(pTemplate, ulCount) }?;
        session.set_attributes(from_ck(hObject), tpl)
    }
}

cryptoki_fn! {
    /// C_FindObjectsInit (an empty template finds every visible object).
    fn C_FindObjectsInit(hSession: CK_SESSION_HANDLE, pTemplate: *mut CK_ATTRIBUTE, ulCount: CK_ULONG) {
        let session = super::session(hSession)?;
        // SAFETY: pTemplate is NULL or a valid template of ulCount attributes (contract).
        let tpl = unsafe { template(pTemplate, ulCount) }?;
        session.find_init(tpl)
    }
}

cryptoki_fn! {
    /// C_FindObjects.
    fn C_FindObjects(
        hSession: CK_SESSION_HANDLE,
        phObject: *mut CK_OBJECT_HANDLE,
        ulMaxObjectCount: CK_ULONG,
        pulObjectCount: *mut CK_ULONG,
    ) {
        let session = super::session(hSession)?;
        if pulObjectCount.is_null() || (phObject.is_null() && ulMaxObjectCount != 0) {
            return Err(Error::ArgumentsBad);
        }
        let handles = session.find_next(len_from_ck(ulMaxObjectCount)?)?;
        for (i, h) in handles.iter().enumerate() {
            // SAFETY: phObject is valid for ulMaxObjectCount >= handles.len() writes (contract).
            unsafe { phObject.add(i).write_unaligned(to_ck(*h)) };
        }
        // SAFETY: pulObjectCount is non-NULL and writable (contract).
        unsafe { put(pulObjectCount, super::marshal::len_to_ck(handles.len())) }
    }
}

cryptoki_fn! {
    /// C_FindObjectsFinal.
    fn C_FindObjectsFinal(hSession: CK_SESSION_HANDLE) {
        super::session(hSession)?.find_final()
    }
}

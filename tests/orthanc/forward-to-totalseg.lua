-- Orthanc: send each CT or MR series to the totalseg DICOM node once it is stable (no new instance
-- for StableAge seconds). The node's DICOM-SEG and RTSTRUCT come back to Orthanc and are never sent on.
function OnStableSeries(seriesId, tags, metadata)
   local modality = tags['Modality']
   if modality == 'CT' or modality == 'MR' then
      print('totalseg: forwarding ' .. modality .. ' series ' .. seriesId)
      RestApiPost('/modalities/totalseg/store',
                  '{"Resources": ["' .. seriesId .. '"], "Asynchronous": true}')
   end
end

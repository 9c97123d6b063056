using Mixer.Samples.AuditAdapter;
using Mixer.Sdk.OutOfProcess;

return await AdapterHost.RunAsync<AuditAdapter>(args);

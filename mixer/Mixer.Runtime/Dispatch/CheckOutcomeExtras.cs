namespace Mixer.Runtime.Dispatch;

/// <summary>A header change a rule asks the proxy to make (Istio 1.1's rule header operations).</summary>
/// <param name="Name">Lower-case header name.</param>
/// <param name="Value">The value (empty for REMOVE).</param>
/// <param name="Operation">0 REPLACE, 1 REMOVE, 2 APPEND (the wire's HeaderOperation.Operation).</param>
public readonly record struct HeaderChange(string Name, string Value, int Operation);

/// The `org.varlink.service` interface every Varlink service provides, and its errors.
public enum VarlinkService {
    public static let interfaceName = "org.varlink.service"
    public static let getInfo = "org.varlink.service.GetInfo"
    public static let getInterfaceDescription = "org.varlink.service.GetInterfaceDescription"

    /// The standard errors, by their qualified names.
    public enum ErrorName: String, Sendable, CaseIterable {
        /// Parameters: `interface`.
        case interfaceNotFound = "org.varlink.service.InterfaceNotFound"
        /// Parameters: `method`.
        case methodNotFound = "org.varlink.service.MethodNotFound"
        /// Parameters: `method`.
        case methodNotImplemented = "org.varlink.service.MethodNotImplemented"
        /// Parameters: `parameter`.
        case invalidParameter = "org.varlink.service.InvalidParameter"
        case permissionDenied = "org.varlink.service.PermissionDenied"
        /// The method must be called with `more`.
        case expectedMore = "org.varlink.service.ExpectedMore"
    }

    /// The interface description of `org.varlink.service` itself, as published by varlink.org.
    public static let description = """
        # The Varlink Service Interface is provided by every varlink service. It
        # describes the service and the interfaces it implements.
        interface org.varlink.service

        # Get a list of all the interfaces a service provides and information
        # about the implementation.
        method GetInfo() -> (
          vendor: string,
          product: string,
          version: string,
          url: string,
          interfaces: []string
        )

        # Get the description of an interface that is implemented by this service.
        method GetInterfaceDescription(interface: string) -> (description: string)

        # The requested interface was not found.
        error InterfaceNotFound (interface: string)

        # The requested method was not found
        error MethodNotFound (method: string)

        # The interface defines the requested method, but the service does not
        # implement it.
        error MethodNotImplemented (method: string)

        # One of the passed parameters is invalid.
        error InvalidParameter (parameter: string)

        # Client is denied access
        error PermissionDenied ()

        # Method is expected to be called with 'more' set to true, but wasn't
        error ExpectedMore ()
        """
}

extension VarlinkReply {
    public static func error(_ name: VarlinkService.ErrorName, parameters: [String: JSONValue] = [:]) -> VarlinkReply {
        .error(name.rawValue, parameters: parameters)
    }

    public static func interfaceNotFound(_ interface: String) -> VarlinkReply {
        .error(.interfaceNotFound, parameters: ["interface": .string(interface)])
    }

    public static func methodNotFound(_ method: String) -> VarlinkReply {
        .error(.methodNotFound, parameters: ["method": .string(method)])
    }

    public static func methodNotImplemented(_ method: String) -> VarlinkReply {
        .error(.methodNotImplemented, parameters: ["method": .string(method)])
    }

    /// `parameter` names the offending parameter; `reason`, an addition to the standard
    /// error's fields that generic clients ignore, says what is wrong with it.
    public static func invalidParameter(_ parameter: String, reason: String? = nil) -> VarlinkReply {
        var parameters: [String: JSONValue] = ["parameter": .string(parameter)]
        if let reason { parameters["reason"] = .string(reason) }
        return .error(.invalidParameter, parameters: parameters)
    }

    public static var permissionDenied: VarlinkReply { .error(.permissionDenied) }

    public static var expectedMore: VarlinkReply { .error(.expectedMore) }
}

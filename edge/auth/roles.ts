/** The roles a token can carry (DESIGN, "Auth"), in the order the README lists them. */
export const ROLES = ["shopper", "terminal", "staff", "manager", "admin", "service"] as const;
export type Role = (typeof ROLES)[number];

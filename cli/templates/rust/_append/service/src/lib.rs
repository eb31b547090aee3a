pub mod {{snake}}_service;
